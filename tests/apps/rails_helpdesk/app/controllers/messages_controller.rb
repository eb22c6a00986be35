class MessagesController < ApplicationController
  before_action :authenticate!

  def index
    conversation = Conversation.find(params[:conversation_id])
    render json: conversation.messages.order(:created_at).map(&:as_api_json)
  end

  def create
    conversation = Conversation.find_by(id: params[:conversationId])
    unless conversation&.visible_to?(current_user)
      return render(json: { error: "Conversation not found" }, status: :not_found)
    end

    role = conversation.initiator_id == current_user.id ? "initiator" : "expert"
    message = conversation.messages.new(sender: current_user, sender_role: role, content: params[:content])
    if message.save
      conversation.update!(last_message_at: message.created_at)
      render json: message.as_api_json, status: :created
    else
      render json: { errors: message.errors.full_messages }, status: :unprocessable_entity
    end
  end
end
